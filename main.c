#include "log.h"
#include <stdio.h>
int main(void)
{
	puts("brev (skeleton)");
	return 0;
}
