/* Every test file is its own program: it defines one Check suite and ends
 * with NN_TEST_MAIN(its_suite). The exit status is the failure count. */
#ifndef NN_TESTS_CHECK_MAIN_H
#define NN_TESTS_CHECK_MAIN_H

#include <check.h>

#define NN_TEST_MAIN(suite_fn)                                                 \
    int main(void)                                                             \
    {                                                                          \
        SRunner *sr = srunner_create(suite_fn());                              \
        srunner_run_all(sr, CK_NORMAL);                                        \
        int failed = srunner_ntests_failed(sr);                                \
        srunner_free(sr);                                                      \
        return failed > 125 ? 125 : failed;                                    \
    }

#endif
