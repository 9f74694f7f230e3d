/* Stand-in for TSK's internal header tsk_fs_i.h, which libtsk-dev does not install but which its
 * installed <tsk/fs/tsk_fatfs.h> includes. Only fs/internal/fat_orphans.cpp uses it, for FATFS_INFO (the
 * layout of the installed library) and the exported fatfs_* functions. The types below appear
 * only in declarations Safehold never calls. */
#pragma once
#include <tsk/libtsk.h>
typedef uint16_t UTF16;
typedef uint8_t UTF8;
typedef int TSKConversionResult;
