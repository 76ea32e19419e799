#define _GNU_SOURCE
#include "ctokvault_httpdate.h"
#include <locale.h>
#include <string.h>
#include <time.h>

int tokvault_parse_http_date(const char *text, long long *seconds) {
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT",  /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        "%A, %d-%b-%y %H:%M:%S GMT",  /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        "%a %b %e %H:%M:%S %Y",       /* asctime: Sun Nov  6 08:49:37 1994 */
    };
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c == (locale_t)0) return -1;
    int result = -1;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm fields;
        memset(&fields, 0, sizeof fields);
        const char *end = strptime_l(text, formats[i], &fields, c);
        if (end == NULL || *end != '\0') continue;
        time_t t = timegm(&fields);
        /* -1 is also timegm's error; as a date it is in the past anyway. */
        if (t == (time_t)-1) continue;
        *seconds = (long long)t;
        result = 0;
        break;
    }
    freelocale(c);
    return result;
}
