import sys
print("Hello World from py", sum(map(int, sys.stdin.read().split())))
