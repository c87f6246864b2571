#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --exclude=gpu[05-07,12],dgx01
python train.py
