/* The data section of a run's config: how samples become model inputs.
 *
 *   data.channels    1 or 3 (default: the dataset's): grey is repeated to
 *                    RGB, RGB made grey (PIL's luma)
 *   data.resize      N: bilinear resize of every sample to N x N first (0: off)
 *   data.pad         P: then P zero pixels on every side (0: off)
 *   data.transforms  {"train": [...], "eval": [...]}: lists of transforms
 *                    applied after those, in order, each an object
 *                    {"name": ..., <torchvision's argument names>}:
 *                      {"name": "resize", "size": 256, "antialias": true}
 *                      {"name": "center_crop", "size": 224}
 *                      {"name": "random_resized_crop", "size": 224,
 *                       "scale": [0.08, 1], "ratio": [0.75, 1.3333333333333333],
 *                       "antialias": true}
 *                      {"name": "random_crop", "size": 32, "padding": 4}
 *                      {"name": "pad", "padding": 2}
 *                      {"name": "random_horizontal_flip", "p": 0.5}
 *                    ("size" is N or [height, width]; resize with one N sets
 *                    the shorter side.) Training batches use "train", the
 *                    validation and test splits "eval". Default: none, except
 *                    for images of varying size (image_folder):
 *                    random_resized_crop S + random_horizontal_flip, and
 *                    resize S / 0.875 + center_crop S, S = data.image_size
 *   data.image_size  S above (default 224), only for image_folder
 *   data.mean, data.std  a number for every channel, or a list of one per
 *                    channel (default: the dataset's statistics)
 *   data.workers     background threads making batches (default 1; 0: the
 *                    training thread makes them)
 *   data.skip_corrupt  leave unreadable image files out with a warning
 *                    (default false: they are an error)
 *   data.num_classes classes of a dataset that finds them in its files
 *                    (image_folder), for building without reading them
 *
 * The input shape follows from the dataset's sample shape and these alone,
 * without reading any file. */
#ifndef NN_DATA_OPTIONS_H
#define NN_DATA_OPTIONS_H

#include "data/dataset.h"
#include "data/transform.h"

struct nn_config;

typedef struct nn_data_options {
    int channels, height, width;  /* one sample as the model sees it */
    int num_classes;              /* data.num_classes; 0: from the data */
    int workers;
    int skip_corrupt;
    nn_transforms train, eval;    /* the whole pipelines, normalization included */
} nn_data_options;

/* Reads the data.* keys above for dataset d (data.name and data.root are
 * read elsewhere), checking every value and that the train and eval
 * transforms give one fixed sample shape. Errors name the config file and
 * the key ("data.transforms.train[1].size: ..."). */
nn_status nn_data_options_read(nn_data_options *o, struct nn_config *cfg, const nn_dataset_def *d);

#endif
