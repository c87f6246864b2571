#include "slurm/commands.h"

int main(int argc, char** argv) { return kojo::slurm::Main(argc, argv); }
