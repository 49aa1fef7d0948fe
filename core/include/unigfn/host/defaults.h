/* defaults.h — the numbers behind the core spec keys' defaults, stated once. The spec schema
 * (spec/spec_check.c) writes them into every resolved spec as text through UG_DEFAULT_TEXT; the
 * experiment builder reads the resolved spec and states no fallback of its own; ug_optim_defaults
 * (nn/optim.c), for programs that build an optimizer without a spec, starts from the same numbers.
 * The Adam values are PyTorch's (torch.optim.Adam), which the optimizer matches bit for bit. */
#ifndef UG_DEFAULTS_H
#define UG_DEFAULTS_H

#define UG_DEFAULT_ADAM_LR 1e-3      /* ug_optim_defaults only: a spec must give optim.<group>.lr */
#define UG_DEFAULT_ADAM_BETA1 0.9
#define UG_DEFAULT_ADAM_BETA2 0.999
#define UG_DEFAULT_ADAM_EPS 1e-8
#define UG_DEFAULT_BATCH 128
#define UG_DEFAULT_LOG_EVERY 100

/* The default as the schema's text: UG_DEFAULT_TEXT(UG_DEFAULT_BATCH) is "128". */
#define UG_DEFAULT_TEXT(x) UG_DEFAULT_TEXT_(x)
#define UG_DEFAULT_TEXT_(x) #x

#endif
