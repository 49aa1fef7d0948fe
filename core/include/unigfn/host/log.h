/* log.h — where the host's words go. Library code never writes to stdout or stderr itself: it hands
 * each line to ug_out() (the run's report lines, its errors, the live progress line) or ug_message()
 * (plugin.h: leveled diagnostics), and one sink decides where they land. The default sink writes
 * UG_OUT_REPORT to stdout and the rest to stderr, exactly what the CLI prints; a program embedding the
 * library (a GUI, a notebook binding, a test) installs its own with ug_log_set_sink. */
#ifndef UG_LOG_H
#define UG_LOG_H

enum ug_out_channel {
    UG_OUT_REPORT = 0,    /* what a run reports: started, step/eval lines, FINISHED (stdout) */
    UG_OUT_ERROR = 1,     /* why a run or command failed, as one finished line (stderr) */
    UG_OUT_PROGRESS = 2,  /* the live "\r step ..." line on a terminal (stderr) */
    UG_OUT_MESSAGE = 3,   /* ug_message diagnostics, "unigfn: <level>: ..." (stderr) */
};

/* A sink gets whole texts as the caller formatted them (with their newlines or \r). */
typedef void (*ug_log_sink)(void *user, int channel, const char *text);

/* NULL restores the default sink. Not thread-safe against concurrent ug_out calls: set it first. */
void ug_log_set_sink(ug_log_sink fn, void *user);
void ug_log_set_level(int level);  /* ug_message below this level is dropped (UG_LOG_* of plugin.h) */

void ug_out(int channel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
