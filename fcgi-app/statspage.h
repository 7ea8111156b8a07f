/* statspage: the parts of the /stats page that are lists of figures (charts, tables,
 * bar lists), rendered into HTML for the template's raw {{&charts}} and {{&lists}}. */
#ifndef KT_STATSPAGE_H
#define KT_STATSPAGE_H

#include "buf.h"
#include "stats.h"

/* Appends the hourly and daily charts, each with a table of its numbers, to charts, and
 * the top pages, referrers, browsers, systems and devices to lists. Every name is
 * escaped. */
void statsPageRender(const stats *st, buf *charts, buf *lists);

#endif
