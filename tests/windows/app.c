/* The Windows test app of tests/e2e/windows.rs, built with mingw-w64 once per version
 * (-DAPP_VERSION="\"2.0\"") and run under Wine. One exe, several modes:
 *
 *   app.exe --version                 print the version
 *   app.exe --record FILE             append "<version>\n" to FILE (proves which version a
 *                                     relaunch started)
 *   app.exe --run PIDFILE STOPFILE    write this process id to PIDFILE, then run until
 *                                     STOPFILE exists (polled every 50 ms)
 *   app.exe --sidecar PIDFILE ARGS    start "<exe folder>\tufd.exe sidecar ARGS --app-pid <pid>"
 *                                     with pipes, send the JSON-RPC request `install`, copy
 *                                     what tufd prints to stdout until the state `installing`
 *                                     (or an error) shows, then exit: tufd swaps after that
 *   app.exe --hold PATH STOPFILE      open the file or folder PATH with share mode 0 (no
 *                                     FILE_SHARE_DELETE: nobody may rename or delete it), print
 *                                     "held", keep it open until STOPFILE exists */
#include <stdio.h>
#include <string.h>
#include <windows.h>

#ifndef APP_VERSION
#define APP_VERSION "0.0"
#endif

static int write_pid(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "%lu\n", (unsigned long)GetCurrentProcessId());
    fclose(f);
    return 1;
}

static int sidecar(const char *pidfile, const char *args) {
    char exe[MAX_PATH], cmd[32768];
    DWORD n = GetModuleFileNameA(NULL, exe, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return 2;
    char *slash = strrchr(exe, '\\');
    if (!slash) return 2;
    strcpy(slash + 1, "tufd.exe");
    snprintf(cmd, sizeof cmd, "\"%s\" sidecar %s --app-pid %lu", exe, args,
             (unsigned long)GetCurrentProcessId());
    if (!write_pid(pidfile)) return 2;

    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE in_r, in_w, out_r, out_w;
    if (!CreatePipe(&in_r, &in_w, &sa, 0) || !CreatePipe(&out_r, &out_w, &sa, 0)) return 2;
    SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
    STARTUPINFOA si = {0};
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_r;
    si.hStdOutput = out_w;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi;
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fprintf(stderr, "cannot start %s: error %lu\n", cmd, GetLastError());
        return 2;
    }
    CloseHandle(in_r);
    CloseHandle(out_w);
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"install\"}\n";
    DWORD written;
    WriteFile(in_w, req, (DWORD)strlen(req), &written, NULL);

    char buf[65536];
    size_t len = 0;
    for (;;) {
        DWORD got = 0;
        if (len + 1 >= sizeof buf) len = 0;
        if (!ReadFile(out_r, buf + len, (DWORD)(sizeof buf - 1 - len), &got, NULL) || got == 0)
            break;
        fwrite(buf + len, 1, got, stdout);
        fflush(stdout);
        len += got;
        buf[len] = 0;
        if (strstr(buf, "\"installing\"") || strstr(buf, "\"error\"")) break;
    }
    /* Exit without closing the pipe first: the app's exit closes it, tufd reads the end of
     * input as a shutdown and finishes the swap. */
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", APP_VERSION);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--record") == 0) {
        FILE *f = fopen(argv[2], "a");
        if (!f) return 2;
        fprintf(f, "%s\n", APP_VERSION);
        fclose(f);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--run") == 0) {
        if (!write_pid(argv[2])) return 2;
        while (GetFileAttributesA(argv[3]) == INVALID_FILE_ATTRIBUTES) Sleep(50);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--sidecar") == 0) return sidecar(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--hold") == 0) {
        /* FILE_FLAG_BACKUP_SEMANTICS: needed to open a folder. */
        HANDLE h = CreateFileA(argv[2], GENERIC_READ, 0, NULL, OPEN_EXISTING,
                               FILE_FLAG_BACKUP_SEMANTICS, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            fprintf(stderr, "cannot open %s: error %lu\n", argv[2], GetLastError());
            return 2;
        }
        printf("held\n");
        fflush(stdout);
        while (GetFileAttributesA(argv[3]) == INVALID_FILE_ATTRIBUTES) Sleep(50);
        CloseHandle(h);
        return 0;
    }
    fprintf(stderr, "usage: app.exe --version | --record FILE | --run PIDFILE STOPFILE | "
                    "--sidecar PIDFILE ARGS | --hold PATH STOPFILE\n");
    return 2;
}
