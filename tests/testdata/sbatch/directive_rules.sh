#!/bin/bash
# A comment does not end the directives, and neither do blank lines.

#SBATCH --gres=gpu:1   # one GPU
# SBATCH --gres=gpu:8
#sbatch --time=99
 #SBATCH --mem=1T
#SBATCH --time=20 # minutes
echo start
#SBATCH --time=600
python train.py
