#!/bin/bash
#SBATCH --account=speech
#SBATCH --export=NCCL_DEBUG=INFO,OMP_NUM_THREADS=8,HOME
#SBATCH --gpus=2
srun python train.py
