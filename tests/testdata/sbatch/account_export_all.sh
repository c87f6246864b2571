#!/bin/bash
#SBATCH -A vision
#SBATCH --export=ALL,WANDB_MODE=offline
#SBATCH --gres=gpu:1
python train.py
