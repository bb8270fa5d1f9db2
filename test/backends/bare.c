/* bare.c: the scripted test backend (scripted.c) as "bare", which can
 * listen and deliver messages and nothing else: what bot-send answers for
 * a reaction, presence, stream, delete or edit then is "unsupported".
 * Settings --bare-script, --bare-log, --bare-account. */
#define SCRIPTED_NAME "bare"
#define SCRIPTED_CAN (BOT_CAN_LISTEN | BOT_CAN_SESSION)
#include "scripted.c"
