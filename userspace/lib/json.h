/* SPDX-License-Identifier: GPL-2.0-only */
/* dm-xrepl userspace: JSON output shared by the tools. */
#ifndef XREPL_JSON_H
#define XREPL_JSON_H

/* Print s to stdout as a JSON string, quoted and escaped. */
void json_str(const char *s);

#endif /* XREPL_JSON_H */
