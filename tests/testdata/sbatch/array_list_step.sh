#!/bin/bash
#SBATCH -a 1,3,5-11:2%2
#SBATCH -G 1
#SBATCH -o seed-%a-%A.log
python train.py --seed "$SLURM_ARRAY_TASK_ID"
