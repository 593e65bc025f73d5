/* tests/tools/gw-admin.c: test driver for the gateway's admin command line: gw-admin -d LOCATION [-a ACTOR] admin ... | audit verify. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/errors.h"
#include "common/store.h"
#include "gateway/admin.h"

static void
usage(void)
{
	fputs("usage: gw-admin -d LOCATION [-a ACTOR] admin COMMAND ...\n"
	      "       gw-admin -d LOCATION audit verify\n",
	    stderr);
}

int
main(int argc, char **argv)
{
	struct store *st = NULL;
	const char *loc = NULL, *actor = "cli:test";
	int c, r = GW_ADMIN_USAGE;

	while ((c = getopt(argc, argv, "+d:a:")) != -1) {
		if (c == 'd')
			loc = optarg;
		else if (c == 'a')
			actor = optarg;
		else {
			usage();
			goto out;
		}
	}
	if (loc == NULL || optind >= argc) {
		usage();
		goto out;
	}
	if ((r = store_open(loc, &st)) != 0) {
		fprintf(stderr, "gw-admin: %s: %s\n", uk_error_id(r),
		    store_last_error(NULL));
		r = GW_ADMIN_FAILED;
		goto out;
	}
	if (strcmp(argv[optind], "admin") == 0)
		r = gw_admin_main(st, actor, argc - optind - 1,
		    argv + optind + 1, stdout, stderr);
	else if (strcmp(argv[optind], "audit") == 0 && optind + 2 == argc &&
	    strcmp(argv[optind + 1], "verify") == 0)
		r = gw_audit_verify_main(st, stdout, stderr);
	else {
		usage();
		r = GW_ADMIN_USAGE;
	}
out:
	store_close(st);
	return r;
}
