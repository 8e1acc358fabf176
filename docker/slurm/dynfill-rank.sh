#!/usr/bin/env bash
# Per-rank environment for dynfill under srun or mpirun, then exec the
# command: dynfill-rank dynfill train ...   (installed as /usr/local/bin/dynfill-rank
# in the image; usable outside it as docker/slurm/dynfill-rank.sh).
#
#  - node-local rank from Slurm (SLURM_LOCALID), OpenMPI
#    (OMPI_COMM_WORLD_LOCAL_RANK), MPICH/Intel MPI (MPI_LOCALRANKID) or PMIx;
#  - one GPU per rank (DFL_BIND_GPU=1, the default): CUDA_VISIBLE_DEVICES is
#    narrowed to the rank's GPU, picked from the GPUs the job was given
#    (or 0..N-1 when none are listed), so the process's device 0 is its
#    GPU. NCCL still finds NVLink/NVSwitch peers of GPUs it cannot see (it
#    reads the topology from the PCI bus IDs). DFL_BIND_GPU=0 leaves every
#    GPU visible; the NCCL communicator then picks GPU local_rank itself;
#  - OMP_NUM_THREADS = the CPUs Slurm gave the task (SLURM_CPUS_PER_TASK),
#    unless already set (data loading and host work; the GPU does the math).
set -euo pipefail
local_rank=${SLURM_LOCALID:-${OMPI_COMM_WORLD_LOCAL_RANK:-${MPI_LOCALRANKID:-${PMIX_LOCAL_RANK:-0}}}}
if [ "${DFL_BIND_GPU:-1}" = 1 ]; then
  IFS=, read -r -a gpus <<<"${CUDA_VISIBLE_DEVICES:-}"
  if [ "${#gpus[@]}" -gt 1 ]; then
    export CUDA_VISIBLE_DEVICES=${gpus[$((local_rank % ${#gpus[@]}))]}
  elif [ "${#gpus[@]}" -eq 0 ]; then
    export CUDA_VISIBLE_DEVICES=$local_rank
  fi
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-4}}
export DFL_LOCAL_RANK=$local_rank
if [ "$#" -eq 0 ]; then
  echo "usage: dynfill-rank COMMAND [ARGS...]   (e.g. dynfill-rank dynfill train --config run.ini --out RUN)" >&2
  exit 2
fi
exec "$@"
