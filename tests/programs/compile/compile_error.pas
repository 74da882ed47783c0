program compile_error;
begin
  undefined_name := 1;
end.
