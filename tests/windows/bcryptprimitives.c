/* Test-harness stand-in for Windows 10's bcryptprimitives.dll under Wine 8.0, which lacks
 * ProcessPrng (Rust's standard library imports it for its random numbers). Real Windows
 * ships ProcessPrng; this file is built only by the Wine tests (tests/e2e/windows.rs). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom, advapi32 */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
