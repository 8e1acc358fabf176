/* Physical generators behind `dynfill gen` (docs/design.md, "Command line"): a 2D
 * incompressible Navier-Stokes solver, exact linear advection and a
 * shallow-water dam break, plus the Gaussian random fields that seed them.
 * Grids are row-major [y][x] doubles of n x n cells. Each solver is
 * single-threaded and deterministic (FFTW plans are made with
 * FFTW_ESTIMATE, so the same inputs always run the same code path);
 * `dynfill gen` runs independent trajectories on several threads.
 * Not a public API: the tests in tests/unit/data call it directly. */
#ifndef DYNFILL_HOST_GEN_H
#define DYNFILL_HOST_GEN_H

#include <stdint.h>

/* Gaussian random field on the unit torus: spectral coefficients
 * sigma * (4 pi^2 |m|^2 + tau^2)^(-alpha/2) times complex normals from
 * Philox (seed, stream), zero mean and no Nyquist modes; so the field is
 * smooth for alpha > 1 and band-limited. */
void dfl_grf_sample(int n, double alpha, double tau, double sigma, uint64_t seed, uint64_t stream, double *out);

/* ---- 2D Navier-Stokes, vorticity form, on the periodic square [0, L)^2 ----
 *   dw/dt + u . grad w = nu lap w - drag w + f,
 *   u = (d psi/dy, -d psi/dx),  -lap psi = w
 * pseudo-spectral (FFTW), 2/3-rule dealiasing, Crank-Nicolson for the
 * linear terms (viscosity, drag) with a Heun (RK2) predictor-corrector for
 * advection and forcing, CFL step control. Forcings:
 *   KOLMOGOROV: f = -k amp cos(k y) (the vorticity of the body force
 *               amp sin(k y) in x; Kochkov et al. 2021 use k = 4, L = 2 pi,
 *               amp 1, nu 1e-3 (Re 1000), drag 0.1)
 *   FNO:        f = amp (sin(2 pi (x+y)/L) + cos(2 pi (x+y)/L)) (Li et al.'s
 *               Navier-Stokes data: L = 1, amp 0.1, nu 1e-3, no drag). */
typedef enum { DFL_NS_FORCING_NONE = 0, DFL_NS_FORCING_KOLMOGOROV = 1, DFL_NS_FORCING_FNO = 2 } dfl_ns_forcing;
typedef struct {
    int n;         /* grid points per side (even) */
    double length; /* domain side L */
    double nu, drag;
    dfl_ns_forcing forcing;
    double forcing_amp;
    int forcing_k; /* Kolmogorov wavenumber */
} dfl_ns_params;
typedef struct dfl_ns_solver dfl_ns_solver;
dfl_ns_solver *dfl_ns_create(const dfl_ns_params *p);
void dfl_ns_destroy(dfl_ns_solver *s);
void dfl_ns_set_vorticity(dfl_ns_solver *s, const double *w);
void dfl_ns_get_vorticity(dfl_ns_solver *s, double *w);
/* Vorticity on a coarser m x m grid (m <= n, even) by spectral truncation
 * (exact band-limited resampling; m == n is a plain copy). */
void dfl_ns_get_vorticity_resampled(dfl_ns_solver *s, int m, double *w);
void dfl_ns_get_velocity(dfl_ns_solver *s, double *u, double *v);
/* Advance by `duration` time units (steps end exactly on the target). */
void dfl_ns_advance(dfl_ns_solver *s, double duration);
double dfl_ns_time(const dfl_ns_solver *s);
long dfl_ns_steps(const dfl_ns_solver *s);
/* Step limits: dt <= dt_max and dt <= cfl * dx / max(|u| + |v|). */
void dfl_ns_set_step_limits(dfl_ns_solver *s, double dt_max, double cfl);
/* Domain means: energy 1/2 <u^2+v^2>, enstrophy <w^2>, and the forcing's
 * energy input <psi f> (so dE/dt = <psi f> - nu <w^2> - 2 drag E). */
double dfl_ns_energy(dfl_ns_solver *s);
double dfl_ns_enstrophy(dfl_ns_solver *s);
double dfl_ns_energy_input(dfl_ns_solver *s);

/* ---- linear advection u_t + c . grad u = 0 on the unit torus ----
 * Exact solution u(x, t) = u0(x - c t), applied as a Fourier phase shift
 * of a band-limited u0 (Nyquist modes dropped). */
typedef struct dfl_advection dfl_advection;
dfl_advection *dfl_advection_create(int n, const double *u0);
void dfl_advection_frame(dfl_advection *a, double cx, double cy, double t, double *out);
void dfl_advection_destroy(dfl_advection *a);

/* ---- shallow water, radial dam break (PDEBench setting) ----
 * h_t + (hu)_x + (hv)_y = 0, (hu)_t + (hu^2 + g h^2/2)_x + (huv)_y = 0, ...
 * on [-L, L]^2, finite volumes: MUSCL (minmod) reconstruction, Rusanov
 * flux, SSP-RK2 in time, reflective walls (so mass is conserved exactly). */
typedef struct dfl_sw_solver dfl_sw_solver;
dfl_sw_solver *dfl_sw_create(int n, double half_width, double g);
void dfl_sw_destroy(dfl_sw_solver *s);
/* h = h_in inside the circle of `radius` around (cx, cy), h_out outside; at rest. */
void dfl_sw_set_dam(dfl_sw_solver *s, double cx, double cy, double radius, double h_in, double h_out);
void dfl_sw_advance(dfl_sw_solver *s, double duration);
/* Cell heights [n*n] (owned by the solver). */
const double *dfl_sw_height(const dfl_sw_solver *s);
/* Sum of h over the cells times the cell area. */
double dfl_sw_mass(const dfl_sw_solver *s);
double dfl_sw_time(const dfl_sw_solver *s);

#endif
