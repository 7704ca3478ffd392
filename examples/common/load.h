/* Opening the model the options name, as both example programs do. */
#ifndef PHI_EXAMPLES_LOAD_H
#define PHI_EXAMPLES_LOAD_H

#include <stdint.h>

#include "core/err.h"
#include "options.h"
#include "phi4.h"

/* A new context in *out (NULL on failure) with o's settings, the model
 * loaded: o->model is a GGUF path or ollama:NAME[:TAG]. While it loads,
 * stderr shows a progress bar if it is a terminal, else one line. The status
 * of the first failing step, with a message in err naming the model or the
 * flag. */
int32_t example_open_model(const example_options *o, example_program program, phi_ctx **out,
                           phi_err *err);

#endif
