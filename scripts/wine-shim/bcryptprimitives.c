/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the Windows test
 * binaries under Debian 12's wine 8 (scripts/ci-windows.sh), whose
 * bcryptprimitives.dll lacks ProcessPrng. Rust's std (1.78 and later) imports
 * ProcessPrng from that DLL for its random numbers (HashMap keys), so without
 * it every executable fails at load (status c0000135).
 *
 * ProcessPrng fills the buffer through advapi32's SystemFunction036
 * (RtlGenRandom), which wine 8 has. Build (never commit the DLL):
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *       bcryptprimitives.c -ladvapi32
 *
 * and put its directory on WINEPATH.
 */
#include <windows.h>

/* advapi32's RtlGenRandom; its buffer length is a ULONG. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
