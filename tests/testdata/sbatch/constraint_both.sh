#!/bin/bash
#SBATCH -N 2 --gpus-per-node=8
#SBATCH -C nvlink&ib
#SBATCH -t 1-00:00:00
srun python train.py
