#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --time=UNLIMITED
#SBATCH --partition=long
jupyter lab --no-browser --port 8888
