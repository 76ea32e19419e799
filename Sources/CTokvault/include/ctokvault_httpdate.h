#ifndef CTOKVAULT_HTTPDATE_H
#define CTOKVAULT_HTTPDATE_H

/// An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms)
/// as seconds since 1970 in *seconds. The whole of `text` must be the date. Day and month
/// names are read in the C locale whatever the environment says. 0 on success, -1 otherwise.
int tokvault_parse_http_date(const char *text, long long *seconds);

#endif
