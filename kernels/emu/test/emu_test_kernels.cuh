// Types shared by the emulator's test kernels and the test driver.
#pragma once

struct EtParams {
    int n;
    double scale;
    float bias;
};
