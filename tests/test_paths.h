#pragma once
// Kept for includes written before the helpers moved to tests/support/.
#include "tests/support/test_paths.h"
