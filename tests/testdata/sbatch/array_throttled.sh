#!/bin/bash
#SBATCH --job-name=sweep
#SBATCH --array=0-99%10
#SBATCH --gres=gpu:1
#SBATCH --mem=24G
#SBATCH -t 3:00:00
#SBATCH -o logs/%x_%A_%a.out
#SBATCH -e logs/%x_%A_%a.err

python sweep.py --trial "$SLURM_ARRAY_TASK_ID"
