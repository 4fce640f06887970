/* One Euler step of Brownian motion with drift, as an external code: the state lives in files.
 *
 *   external_step IN OUT DT NOISE MU SIGMA
 *
 * reads the state x from the file IN, writes x + mu dt + sigma sqrt(dt) noise to the file OUT
 * ("%.17g": the value round-trips exactly), and exits 0; any error exits 1 with a message.
 * Replace the arithmetic with a call into your Fortran or C++ model: the Python side
 * (pytams.models.external.ExternalModel) only needs files in, files out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s IN OUT DT NOISE MU SIGMA\n", argv[0]);
        return 1;
    }
    double dt = strtod(argv[3], NULL), noise = strtod(argv[4], NULL);
    double mu = strtod(argv[5], NULL), sigma = strtod(argv[6], NULL);
    double x;
    FILE *in = fopen(argv[1], "r");
    if (in == NULL || fscanf(in, "%lf", &x) != 1) {
        fprintf(stderr, "%s: cannot read a state from %s\n", argv[0], argv[1]);
        return 1;
    }
    fclose(in);
    x = x + mu * dt + sigma * sqrt(dt) * noise;
    FILE *out = fopen(argv[2], "w");
    if (out == NULL || fprintf(out, "%.17g\n", x) < 0 || fclose(out) != 0) {
        fprintf(stderr, "%s: cannot write the state to %s\n", argv[0], argv[2]);
        return 1;
    }
    return 0;
}
