#!/bin/bash
#SBATCH --gres=shard:2
python small_model.py
