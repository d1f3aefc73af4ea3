#include "models/mobilenet_options.h"

nn_status nn_mobilenet_read_options(nn_config *cfg, double *width_mult, float *dropout, int *stem_stride)
{
    static const char *const stems[] = {"imagenet", "cifar", NULL};
    const char *stem;
    double p;
    NN_TRY(nn_config_number(cfg, "model.width_mult", 1.0, 0.01, 10.0, width_mult));
    NN_TRY(nn_config_number(cfg, "model.dropout", 0.2, 0.0, 1.0, &p));
    /* p = 1 would scale the kept nothing by 1 / 0. */
    if (p >= 1.0)
        return nn_error(NN_ERR_INPUT, "%s: model.dropout: expected a number in [0, 1), found %g",
                        nn_config_origin(cfg), p);
    NN_TRY(nn_config_string(cfg, "model.stem", "imagenet", stems, &stem));
    *dropout = (float)p;
    *stem_stride = stem[0] == 'c' ? 1 : 2;
    return NN_OK;
}
