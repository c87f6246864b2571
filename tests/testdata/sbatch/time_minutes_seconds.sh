#!/bin/sh
#SBATCH --gpus=1
#SBATCH --time=45:30
nvidia-smi
