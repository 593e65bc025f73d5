/* gateway/routes_helpdesk.c: the helpdesk console's API under /helpdesk/api/. */
#include "gateway/console.h"

#include "common/errors.h"

enum MHD_Result
gw_helpdesk_api(struct gw_console *k)
{
	return gw_console_error(k, UK_ERR_NO_ROUTE, NULL, NULL);
}
