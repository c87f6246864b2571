0#!/bin/bash
#SBATCH --job-name=train
#SBATCH -N 2 --ntasks-per-node=1
#SBATCH --gres=gpu:h100:4
#SBATCH --mem=64G --cpus-per-task=8
#SBATCH --time=1-12:00:00
#SBATCH -o logs/%x-%j.out -e logs/%x-%j.err
#SBATCH --export=HOME,FOO=bar
# a comment
#SBATCH --array=0-9%2   # trailing comment
srun python train.py
