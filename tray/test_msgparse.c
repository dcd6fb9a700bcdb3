#include "tray.h"
int main(void){return 0;}
