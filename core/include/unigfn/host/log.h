/* log.h — host-side controls for logging and the run folder (plugins only see ug_log / ug_run_dir). */
#ifndef UG_LOG_H
#define UG_LOG_H
#include <stdint.h>
void ug_log_set_level(int level);
void ug_set_run_dir(const char *dir);
uint32_t ug_cap_from_name(const char *name);
#endif
