#!/usr/bin/env bash
# Slurm job array: N coexplore workers on one study, through Optuna's gRPC storage proxy and a shared
# MLflow tracking server (see docs/scale-out.md for starting both and the study).
#
#   export COEXPLORE_STUDY=quickstart
#   export COEXPLORE_STORAGE=grpc://proxy-host:13000
#   export MLFLOW_TRACKING_URI=http://mlflow-host:5000
#   start=$(sbatch --parsable --wrap "coexplore study start studies/$COEXPLORE_STUDY.yaml \
#           --storage $COEXPLORE_STORAGE --tracking-uri $MLFLOW_TRACKING_URI --no-progress")
#   sbatch --dependency=after:$start --array=0-63 docs/recipes/slurm-workers.sh
#
# Each array task runs one worker until the study's budget of COMPLETE trials is met over all of
# them; a task that dies (preempted, OOM, node failure) has its running trial failed by heartbeat
# and retried by another worker. Requeue-safe: a requeued task simply joins again.
#SBATCH --job-name=coexplore-worker
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=coexplore-worker-%A_%a.log
set -euo pipefail
: "${COEXPLORE_STUDY:?set COEXPLORE_STUDY to the study name}"
: "${COEXPLORE_STORAGE:?set COEXPLORE_STORAGE to grpc://HOST:PORT of coexplore storage serve}"
: "${MLFLOW_TRACKING_URI:?set MLFLOW_TRACKING_URI to http://HOST:PORT of coexplore mlflow serve}"
# FP32 checkpoints: a folder on the shared file system lets the first worker pretrain for all.
export COEXPLORE_PROXY_CACHE_DIR="${COEXPLORE_PROXY_CACHE_DIR:-$HOME/.cache/coexplore/proxy-cache}"
# source .venv/bin/activate   # wherever coexplore is installed on the compute nodes
srun coexplore study worker "$COEXPLORE_STUDY" --storage "$COEXPLORE_STORAGE" --tracking-uri "$MLFLOW_TRACKING_URI" --no-progress
