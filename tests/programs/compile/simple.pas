program simple;
begin
  writeln('Hello World from pas');
end.
