/* Asks nat_fw_check about the current network namespace (tests/interop/t-nat-fwcheck.sh):
 *   nat_fw_probe          prints "quiet" or "not quiet: WHY" (exit 0; 1: cannot ask)
 *   nat_fw_probe -n N     also makes N calls (N <= 100000) and prints their cost:
 *                         "calls N cpu-us-per-call U wall-us-per-call W" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "daemon/nat_fw_check.h"

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static double wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	long calls = 0;
	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		calls = strtol(argv[2], NULL, 10);
	if (argc != 1 && (calls <= 0 || calls > 100000)) {
		fprintf(stderr, "usage: nat_fw_probe [-n CALLS]\n");
		return 2;
	}
	struct nat_fw_verdict v;
	int rc = nat_fw_check(&v);
	if (rc < 0) {
		printf("error: %s\n", v.why);
		return 1;
	}
	if (v.quiet)
		printf("quiet\n");
	else
		printf("not quiet: %s\n", v.why);
	if (calls > 0) {
		double c0 = cpu_us(), w0 = wall_us();
		for (long i = 0; i < calls; i++)
			if (nat_fw_check(&v) < 0) {
				printf("error: %s\n", v.why);
				return 1;
			}
		printf("calls %ld cpu-us-per-call %.1f wall-us-per-call %.1f\n", calls,
		       (cpu_us() - c0) / calls, (wall_us() - w0) / calls);
	}
	return 0;
}
