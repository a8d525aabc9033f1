"""boxoffice: a cinema ticketing system of five services in one package."""
