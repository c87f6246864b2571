#!/bin/bash
#SBATCH --no-requeue
#SBATCH --gpus=1
#SBATCH --time=1:00:00
python benchmark.py
