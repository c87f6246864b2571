#!/bin/bash
#SBATCH -p gpu,gpu-preempt
#SBATCH --gres=gpu:2
#SBATCH -t 30
python infer.py
