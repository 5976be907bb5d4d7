/* mount-helpers/lsnfsctl.c - placeholder, replaced by the operators' toolkit. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "lsnfsctl: not built yet\n");
	return 2;
}
