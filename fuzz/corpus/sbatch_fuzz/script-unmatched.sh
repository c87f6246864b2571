0#SBATCH --job-name='open
