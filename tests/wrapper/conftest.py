# SPDX-License-Identifier: MIT
# The suites under suites/ are the programs these tests run under the
# wrapper, not tests of this directory.
collect_ignore = ["suites", "scripts"]
