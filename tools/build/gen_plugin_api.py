#!/usr/bin/env python3
"""Generate unigfn/plugin_api_defs.h from unigfn/api_list.h (run by meson at configure time).

Each service `UG_API(ug_add)` becomes `#define ug_add (ug_api_->ug_add)`, so plugin code calls the
host through its table with the ordinary names."""
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
names = re.findall(r'^UG_API\((\w+)\)', open(src).read(), re.M)
lines = ['/* plugin_api_defs.h — GENERATED from api_list.h by tools/build/gen_plugin_api.py; do not edit. */',
         '#ifndef UNIGFN_PLUGIN_API_DEFS_H', '#define UNIGFN_PLUGIN_API_DEFS_H']
lines += [f'#define {n} (ug_api_->{n})' for n in names]
lines += ['#endif', '']
open(dst, 'w').write('\n'.join(lines))
