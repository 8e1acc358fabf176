/* Dimension scales (host/io/h5_dims.h). */
#include "h5_dims.h"

#include <hdf5_hl.h>
#include <string.h>

/* The scale's netCDF name: the dataset name without its leading slash. */
static const char *scale_name(const char *name) { return name[0] == '/' ? name + 1 : name; }

dfl_status dfl_h5_scale_mark(hid_t file, const char *name) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    h5Check(ds);
    dfl_status s = h5CheckWrite(file, H5DSset_scale(ds, scale_name(name)));
    dfl_status c = h5CheckWrite(file, H5Dclose(ds));
    return s != DFL_OK ? s : c;
}

static dfl_status write_1d(hid_t file, const char *name, hid_t filetype, hid_t memtype, size_t n, const void *values) {
    hsize_t d = n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    h5Check(sp);
    hid_t ds = H5Dcreate2(file, name, filetype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    dfl_status s = h5CheckWrite(file, ds);
    if (s == DFL_OK) {
        s = h5CheckWrite(file, H5Dwrite(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, values));
        if (s == DFL_OK) s = h5CheckWrite(file, H5DSset_scale(ds, scale_name(name)));
        dfl_status c = h5CheckWrite(file, H5Dclose(ds));
        if (s == DFL_OK) s = c;
    }
    H5Sclose(sp);
    return s;
}

dfl_status dfl_h5_scale_create(hid_t file, const char *name, hid_t filetype, hid_t memtype, size_t n,
                               const void *values) {
    return write_1d(file, name, filetype, memtype, n, values);
}

dfl_status dfl_h5_scale_create_strings(hid_t file, const char *name, const char *const *values, size_t n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    h5Check(t);
    h5Check(H5Tset_size(t, H5T_VARIABLE));
    h5Check(H5Tset_cset(t, H5T_CSET_UTF8));
    dfl_status s = write_1d(file, name, t, t, n, values);
    H5Tclose(t);
    return s;
}

dfl_status dfl_h5_scale_attach(hid_t file, const char *var, int rank, const char *const *scales) {
    hid_t ds = H5Dopen2(file, var, H5P_DEFAULT);
    h5Check(ds);
    dfl_status s = DFL_OK;
    for (int i = 0; i < rank && s == DFL_OK; ++i) {
        hid_t sc = H5Dopen2(file, scales[i], H5P_DEFAULT);
        h5Check(sc);
        s = h5CheckWrite(file, H5DSattach_scale(ds, sc, (unsigned)i));
        H5Dclose(sc);
    }
    dfl_status c = h5CheckWrite(file, H5Dclose(ds));
    return s != DFL_OK ? s : c;
}

typedef struct {
    char names[8][256];
    int n;
} scale_names;

static herr_t collect_scale(hid_t did, unsigned dim, hid_t dsid, void *data) {
    (void)did;
    (void)dim;
    scale_names *sn = data;
    if (sn->n < 8 && H5Iget_name(dsid, sn->names[sn->n], sizeof sn->names[0]) > 0) sn->n++;
    return 0;
}

dfl_status dfl_h5_scale_detach_all(hid_t file, const char *var) {
    hid_t ds = H5Dopen2(file, var, H5P_DEFAULT);
    h5Check(ds);
    hid_t sp = H5Dget_space(ds);
    h5Check(sp);
    int rank = H5Sget_simple_extent_ndims(sp);
    H5Sclose(sp);
    dfl_status s = DFL_OK;
    for (int i = 0; i < rank && s == DFL_OK; ++i) {
        scale_names sn = {.n = 0};
        if (H5DSget_num_scales(ds, (unsigned)i) <= 0) continue;
        h5Check(H5DSiterate_scales(ds, (unsigned)i, NULL, collect_scale, &sn));
        for (int k = 0; k < sn.n && s == DFL_OK; ++k) {
            hid_t sc = H5Dopen2(file, sn.names[k], H5P_DEFAULT);
            h5Check(sc);
            s = h5CheckWrite(file, H5DSdetach_scale(ds, sc, (unsigned)i));
            H5Dclose(sc);
        }
    }
    dfl_status c = h5CheckWrite(file, H5Dclose(ds));
    return s != DFL_OK ? s : c;
}
