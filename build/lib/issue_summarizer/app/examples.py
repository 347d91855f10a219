"""Example issue bodies for the Summarize page.

They were written for this app, not taken from any dataset, and each one shows a kind of
issue the model meets: a crash with a traceback, a feature request, an install problem,
a documentation fix and a performance regression.
"""

from __future__ import annotations

EXAMPLE_ISSUES: dict[str, str] = {
    "Crash with a traceback": """**Describe the bug**
Running `app.export(format="csv")` raises a KeyError when the table has a column with a space in its name.

**To Reproduce**
1. Create a table with a column called `first name`
2. Call `export` with `format="csv"`

```
Traceback (most recent call last):
  File "export.py", line 42, in export
    value = row[column.name]
KeyError: 'first name'
```

**Expected behavior**
The CSV file is written with the column name quoted.

Version 2.3.1 on Python 3.11, Ubuntu 22.04.""",
    "Feature request": """It would be great if the command line tool could read its options from a config file
instead of only from flags. At the moment I have to pass the same ten flags every time I run it in CI.

Something like a `.toolrc` in the project root, or a `[tool.mytool]` table in pyproject.toml,
would be enough. Flags given on the command line should still win over the file.

I am happy to open a pull request if the maintainers agree on the format.""",
    "Install fails": """pip install fails on Windows with Python 3.12:

```
error: Microsoft Visual C++ 14.0 or greater is required.
Get it with "Microsoft C++ Build Tools"
ERROR: Failed building wheel for fastparse
```

There is no prebuilt wheel for 3.12 on PyPI yet, so pip tries to compile from source.
Installing on Python 3.11 works fine. Could you publish wheels for 3.12?""",
    "Documentation typo": """In the getting started guide, the example for connecting to the database uses
`client.connnect()` with three n's, which raises an AttributeError when copied.

It should be `client.connect()`. The same typo appears in the README under "Quick start".""",
    "Slow after upgrade": """After upgrading from 4.1 to 4.2, loading a project with about 2000 files takes
over a minute; before it took 5 seconds. The CPU is at 100% on one core while the progress bar
stays at "Indexing...".

I profiled it and most of the time is spent in `resolve_imports`, which seems to be called
once per file per file now. Downgrading to 4.1 fixes it. Happens on macOS and Linux.""",
}
