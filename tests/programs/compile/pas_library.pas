unit pas_library;
interface
function greeting: string;
implementation
function greeting: string;
begin
  greeting := 'Hello World';
end;
end.
