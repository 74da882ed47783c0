/* Leaves things in its box for the copy-back, by argv[1]: sparse (40 files of
 * 50 MiB holes), links (100 hard links to one 50 MiB file), deep (a directory
 * tree whose host path is too long for one string), ok (a file in a
 * directory, a hard link to it and a symlink to /etc/shadow). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
int main(int c,char**v){
  if (!strcmp(v[1],"sparse")) { char s[64]; for(int i=0;i<40;i++){ sprintf(s,"f%d",i); int fd=open(s,O_CREAT|O_WRONLY,0644); ftruncate(fd,50<<20); close(fd);} return 0; }
  if (!strcmp(v[1],"links")) { int fd=open("big",O_CREAT|O_WRONLY,0644); ftruncate(fd,50<<20); close(fd); char s[64]; for(int i=0;i<100;i++){sprintf(s,"l%d",i); link("big",s);} return 0; }
  if (!strcmp(v[1],"deep")) { char n[256]; memset(n,'a',200); n[200]=0; for(int i=0;i<21;i++){ if(mkdir(n,0755)||chdir(n)) break; } FILE*f=fopen("x","w"); fputs("deep",f); fclose(f); return 0; }
  if (!strcmp(v[1],"ok")) { mkdir("d",0755); FILE*f=fopen("d/out.txt","w"); fputs("hello",f); fclose(f); link("d/out.txt","hl"); symlink("/etc/shadow","sl"); return 0; }
  return 1;
}
