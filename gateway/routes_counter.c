/* gateway/routes_counter.c: the counter console's API under /counter/api/. */
#include "gateway/console.h"

#include "common/errors.h"

enum MHD_Result
gw_counter_api(struct gw_console *k)
{
	return gw_console_error(k, UK_ERR_NO_ROUTE, NULL, NULL);
}
