program simplelib;
uses pas_library;
begin
  writeln(greeting, ' from pas-lib');
end.
